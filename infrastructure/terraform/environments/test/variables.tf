variable "aws_region" {
  type        = string
  description = "AWS region of the test environment."
  default     = "eu-central-1"

  validation {
    condition     = can(regex("^[a-z]{2}(-gov)?-[a-z]+-[0-9]$", var.aws_region))
    error_message = "aws_region must be a region name such as eu-central-1."
  }
}

variable "environment" {
  type        = string
  description = "Environment name; part of every resource name."
  default     = "test"

  validation {
    condition     = can(regex("^[a-z][a-z0-9]{1,11}$", var.environment))
    error_message = "environment must be 2-12 lowercase letters or digits, starting with a letter."
  }
}

variable "vpc_cidr" {
  type        = string
  description = "IPv4 CIDR block of the environment's VPC."
  default     = "10.20.0.0/16"

  validation {
    condition     = can(cidrhost(var.vpc_cidr, 0))
    error_message = "vpc_cidr must be a valid IPv4 CIDR block."
  }
}

variable "availability_zones" {
  type        = list(string)
  description = "Availability zones of the environment (at least two, all in aws_region)."
  default     = ["eu-central-1a", "eu-central-1b"]

  validation {
    condition     = length(var.availability_zones) >= 2
    error_message = "availability_zones must list at least two zones."
  }
}

variable "kubernetes_version" {
  type        = string
  description = "Kubernetes minor version of the EKS control plane."
  default     = "1.34"

  validation {
    condition     = can(regex("^1\\.[0-9]{2}$", var.kubernetes_version))
    error_message = "kubernetes_version must look like 1.34."
  }
}

variable "eks_endpoint_public_access" {
  type        = bool
  description = "Expose the Kubernetes API publicly (to eks_public_access_cidrs only). Off by default: use the helper VM through SSM."
  default     = false
}

variable "eks_public_access_cidrs" {
  type        = list(string)
  description = "Office or CI egress CIDRs allowed to reach the public Kubernetes API when it is enabled."
  default     = []

  validation {
    condition     = alltrue([for cidr in var.eks_public_access_cidrs : can(cidrhost(cidr, 0)) && cidr != "0.0.0.0/0"])
    error_message = "eks_public_access_cidrs must be valid CIDR blocks other than 0.0.0.0/0."
  }
}

variable "eks_node_instance_types" {
  type        = list(string)
  description = "Instance types of the EKS node group."
  default     = ["t3.large"]

  validation {
    condition     = length(var.eks_node_instance_types) > 0
    error_message = "eks_node_instance_types must list at least one instance type."
  }
}

variable "eks_node_count" {
  type        = number
  description = "Number of EKS nodes (min and desired); the maximum is twice this."
  default     = 2

  validation {
    condition     = var.eks_node_count >= 1 && var.eks_node_count <= 10
    error_message = "eks_node_count must be between 1 and 10."
  }
}

variable "helper_vm_count" {
  type        = number
  description = "Number of helper VMs (Ansible bare-metal target, admin host for the private EKS API)."
  default     = 1

  validation {
    condition     = var.helper_vm_count >= 1 && var.helper_vm_count <= 5
    error_message = "helper_vm_count must be between 1 and 5."
  }
}

variable "helper_vm_instance_type" {
  type        = string
  description = "Instance type of the helper VMs."
  default     = "t3.large"

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]*\\.[a-z0-9]+$", var.helper_vm_instance_type))
    error_message = "helper_vm_instance_type must be an EC2 instance type such as t3.large."
  }
}

variable "tags" {
  type        = map(string)
  description = "Extra tags for every resource (the provider already adds Project, Environment and ManagedBy)."
  default     = {}
}

variable "github_repository" {
  type        = string
  description = "GitHub repository (owner/name) whose Actions jobs may assume the CI deploy role."

  validation {
    condition     = can(regex("^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$", var.github_repository))
    error_message = "github_repository must look like owner/name."
  }
}

variable "kubernetes_namespace" {
  type        = string
  description = "Namespace of the Helm release; the CI deploy role administers only this one."
  default     = "sbs"

  validation {
    condition     = can(regex("^[a-z0-9]([-a-z0-9]*[a-z0-9])?$", var.kubernetes_namespace))
    error_message = "kubernetes_namespace must be a Kubernetes namespace name."
  }
}
