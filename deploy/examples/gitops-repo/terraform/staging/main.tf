# Staging GPU capacity and the versions it serves. Planned by gitops-bot on pull requests
# (project serving-staging in .gitops-bot.yaml).

terraform {
  required_version = ">= 1.4"
  # backend "gcs" { bucket = "acme-terraform-state", prefix = "serving/staging" }
}

variable "chat_llm_version" {
  type        = string
  description = "chat-llm image tag (updated by gitops-bot)."
}

variable "reranker" {
  type = object({
    model_version = string
    replicas      = number
  })
  description = "reranker model version from MLflow (updated by gitops-bot) and its replicas."
}

module "gpu_pool" {
  source       = "../modules/gpu-node-pool"
  cluster      = "serving-staging"
  name         = "gpu-l4"
  machine_type = "g2-standard-8"
  gpu          = { type = "nvidia-l4", count = 1 }
  min_nodes    = 1
  max_nodes    = 4
}

resource "terraform_data" "serving" {
  input = {
    chat_llm = var.chat_llm_version
    reranker = var.reranker.model_version
    pool     = module.gpu_pool.node_pool.name
  }
}

output "serving" {
  value = terraform_data.serving.output
}
