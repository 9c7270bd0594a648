variable "cluster_name" {
  type        = string
  description = "Name of the EKS cluster; also prefixes its IAM roles, KMS key and node group."

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,36}[a-z0-9]$", var.cluster_name))
    error_message = "cluster_name must be 3-38 characters of lowercase letters, digits and hyphens, starting with a letter."
  }
}

variable "kubernetes_version" {
  type        = string
  description = "Kubernetes minor version of the control plane, e.g. \"1.34\"."

  validation {
    condition     = can(regex("^1\\.[0-9]{2}$", var.kubernetes_version))
    error_message = "kubernetes_version must look like 1.34 (major.minor)."
  }
}

variable "subnet_ids" {
  type        = list(string)
  description = "Private subnets (in at least two zones) for the control-plane interfaces and the nodes."

  validation {
    condition     = length(var.subnet_ids) >= 2
    error_message = "subnet_ids must list at least two subnets in different availability zones."
  }
}

variable "endpoint_private_access" {
  type        = bool
  description = "Serve the Kubernetes API inside the VPC."
  default     = true
}

variable "endpoint_public_access" {
  type        = bool
  description = "Also serve the Kubernetes API on a public endpoint, limited to public_access_cidrs."
  default     = false
}

variable "public_access_cidrs" {
  type        = list(string)
  description = "CIDR blocks allowed to reach the public API endpoint; used only when endpoint_public_access is true."
  default     = []

  validation {
    condition     = alltrue([for cidr in var.public_access_cidrs : can(cidrhost(cidr, 0)) && cidr != "0.0.0.0/0"])
    error_message = "public_access_cidrs must be valid CIDR blocks and must not contain 0.0.0.0/0."
  }
}

variable "control_plane_log_retention_days" {
  type        = number
  description = "Days CloudWatch keeps control-plane logs (a CloudWatch retention value of at least 365)."
  default     = 365

  validation {
    condition     = contains([365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.control_plane_log_retention_days)
    error_message = "control_plane_log_retention_days must be a CloudWatch retention value of at least 365 days."
  }
}

variable "kms_key_deletion_window_days" {
  type        = number
  description = "Waiting period before the cluster KMS key is deleted after destroy."
  default     = 30

  validation {
    condition     = var.kms_key_deletion_window_days >= 7 && var.kms_key_deletion_window_days <= 30
    error_message = "kms_key_deletion_window_days must be between 7 and 30."
  }
}

variable "node_instance_types" {
  type        = list(string)
  description = "EC2 instance types of the managed node group, in order of preference."
  default     = ["m6i.large"]

  validation {
    condition     = length(var.node_instance_types) > 0 && alltrue([for type in var.node_instance_types : can(regex("^[a-z][a-z0-9-]*\\.[a-z0-9]+$", type))])
    error_message = "node_instance_types must list EC2 instance types such as m6i.large."
  }
}

variable "node_capacity_type" {
  type        = string
  description = "ON_DEMAND or SPOT capacity for the node group."
  default     = "ON_DEMAND"

  validation {
    condition     = contains(["ON_DEMAND", "SPOT"], var.node_capacity_type)
    error_message = "node_capacity_type must be ON_DEMAND or SPOT."
  }
}

variable "node_ami_type" {
  type        = string
  description = "EKS-optimised Amazon Linux 2023 AMI of the nodes (Bottlerocket is not offered: its data volume is /dev/xvdb, which the launch template does not size)."
  default     = "AL2023_x86_64_STANDARD"

  validation {
    condition     = contains(["AL2023_x86_64_STANDARD", "AL2023_ARM_64_STANDARD"], var.node_ami_type)
    error_message = "node_ami_type must be AL2023_x86_64_STANDARD or AL2023_ARM_64_STANDARD."
  }
}

variable "node_min_size" {
  type        = number
  description = "Minimum number of nodes."
  default     = 2

  validation {
    condition     = var.node_min_size >= 1 && var.node_min_size <= 100
    error_message = "node_min_size must be between 1 and 100."
  }
}

variable "node_desired_size" {
  type        = number
  description = "Number of nodes at creation; later changes by autoscalers are kept."
  default     = 2

  validation {
    condition     = var.node_desired_size >= var.node_min_size && var.node_desired_size <= var.node_max_size
    error_message = "node_desired_size must be between node_min_size and node_max_size."
  }
}

variable "node_max_size" {
  type        = number
  description = "Maximum number of nodes."
  default     = 4

  validation {
    condition     = var.node_max_size >= var.node_min_size && var.node_max_size <= 100
    error_message = "node_max_size must be at least node_min_size and at most 100."
  }
}

variable "node_disk_size_gib" {
  type        = number
  description = "Size of each node's encrypted root volume in GiB."
  default     = 50

  validation {
    condition     = var.node_disk_size_gib >= 20 && var.node_disk_size_gib <= 1000
    error_message = "node_disk_size_gib must be between 20 and 1000."
  }
}

variable "tags" {
  type        = map(string)
  description = "Tags added to every resource of the module."
  default     = {}
}

variable "addon_versions" {
  type        = map(string)
  description = "Pinned version of each EKS add-on the module installs. Check them for your kubernetes_version with `aws eks describe-addon-versions --kubernetes-version <v> --addon-name <name>`."
  default = {
    "vpc-cni"                = "v1.20.4-eksbuild.1"
    "kube-proxy"             = "v1.34.0-eksbuild.2"
    "coredns"                = "v1.12.3-eksbuild.1"
    "eks-pod-identity-agent" = "v1.3.8-eksbuild.2"
    "aws-ebs-csi-driver"     = "v1.48.0-eksbuild.2"
  }

  validation {
    condition     = alltrue([for name in ["vpc-cni", "kube-proxy", "coredns", "eks-pod-identity-agent", "aws-ebs-csi-driver"] : contains(keys(var.addon_versions), name)])
    error_message = "addon_versions must pin vpc-cni, kube-proxy, coredns, eks-pod-identity-agent and aws-ebs-csi-driver."
  }

  validation {
    condition     = alltrue([for version in values(var.addon_versions) : can(regex("^v[0-9]+\\.[0-9]+\\.[0-9]+-eksbuild\\.[0-9]+$", version))])
    error_message = "Each add-on version must be an exact EKS build such as v1.20.4-eksbuild.1."
  }
}

variable "cluster_admin_role_arns" {
  type        = map(string)
  description = "IAM roles that administer the whole cluster (access entry with AmazonEKSClusterAdminPolicy), keyed by a static name, e.g. { admin_vm = <role arn> }."
  default     = {}

  validation {
    condition     = alltrue([for arn in values(var.cluster_admin_role_arns) : can(regex("^arn:aws[a-z-]*:iam::[0-9]{12}:role/", arn))])
    error_message = "cluster_admin_role_arns must hold IAM role ARNs."
  }
}

variable "namespace_deployer_role_arns" {
  type        = map(string)
  description = "IAM roles that deploy into deployer_namespaces only (access entry with AmazonEKSAdminPolicy scoped to them), keyed by a static name, e.g. { ci = <role arn> }."
  default     = {}

  validation {
    condition     = alltrue([for arn in values(var.namespace_deployer_role_arns) : can(regex("^arn:aws[a-z-]*:iam::[0-9]{12}:role/", arn))])
    error_message = "namespace_deployer_role_arns must hold IAM role ARNs."
  }
}

variable "deployer_namespaces" {
  type        = list(string)
  description = "Kubernetes namespaces the namespace_deployer_role_arns may administer."
  default     = ["sbs"]

  validation {
    condition     = length(var.deployer_namespaces) > 0 && alltrue([for name in var.deployer_namespaces : can(regex("^[a-z0-9]([-a-z0-9]*[a-z0-9])?$", name))])
    error_message = "deployer_namespaces must list Kubernetes namespace names."
  }
}
