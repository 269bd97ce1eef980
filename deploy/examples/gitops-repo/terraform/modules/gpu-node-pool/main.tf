# A GPU node pool, modelled with the built-in terraform_data resource so the example plans
# anywhere, offline. Swap terraform_data for your cloud's node pool resource
# (google_container_node_pool, aws_eks_node_group, azurerm_kubernetes_cluster_node_pool):
# the inputs are the ones those take.

terraform {
  required_version = ">= 1.4"
}

variable "cluster" {
  type        = string
  description = "Kubernetes cluster the pool joins."
}

variable "name" {
  type        = string
  description = "Node pool name; also the example.com/node-pool label the serving pods select."
}

variable "machine_type" {
  type = string
}

variable "gpu" {
  type = object({
    type  = string
    count = number
  })
}

variable "min_nodes" {
  type    = number
  default = 0
}

variable "max_nodes" {
  type = number

  validation {
    condition     = var.max_nodes >= 1
    error_message = "max_nodes must be at least 1."
  }
}

resource "terraform_data" "node_pool" {
  input = {
    cluster      = var.cluster
    name         = var.name
    machine_type = var.machine_type
    accelerator  = var.gpu
    autoscaling  = { min = var.min_nodes, max = var.max_nodes }
    labels       = { "example.com/node-pool" = var.name }
    taints       = [{ key = "nvidia.com/gpu", value = "present", effect = "NO_SCHEDULE" }]
  }

  # A different machine or GPU type means a new pool, as with the real resources.
  triggers_replace = [var.machine_type, var.gpu.type]
}

output "node_pool" {
  value = terraform_data.node_pool.output
}
