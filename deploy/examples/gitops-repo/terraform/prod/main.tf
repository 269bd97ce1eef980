# Production GPU capacity. Applied when its pull request merges (apply_on: merge).

terraform {
  required_version = ">= 1.4"
  # backend "gcs" { bucket = "acme-terraform-state", prefix = "serving/prod" }
}

variable "serving" {
  type = object({
    chat_llm = object({
      version        = string
      replicas       = number
      mirror_percent = number # requests mirrored to a new version (gitops-bot's shadow stage)
    })
  })
  description = "What production serves; serving.chat_llm.version is updated by gitops-bot."
}

module "gpu_pool" {
  source       = "../modules/gpu-node-pool"
  cluster      = "serving-prod"
  name         = "gpu-h100"
  machine_type = "a3-highgpu-2g"
  gpu          = { type = "nvidia-h100-80gb", count = 2 }
  min_nodes    = 3
  max_nodes    = 12
}

resource "terraform_data" "serving" {
  input = {
    chat_llm = var.serving.chat_llm
    pool     = module.gpu_pool.node_pool.name
  }
}

output "serving" {
  value = terraform_data.serving.output
}
