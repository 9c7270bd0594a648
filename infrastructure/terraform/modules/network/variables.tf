variable "name" {
  type        = string
  description = "Name prefix for every resource of the network, e.g. \"sbs-test\"."

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,30}[a-z0-9]$", var.name))
    error_message = "name must be 3-32 characters of lowercase letters, digits and hyphens, starting with a letter."
  }
}

variable "vpc_cidr" {
  type        = string
  description = "IPv4 CIDR block of the VPC, between /16 and /22."

  validation {
    condition     = can(cidrhost(var.vpc_cidr, 0)) && can(tonumber(split("/", var.vpc_cidr)[1]))
    error_message = "vpc_cidr must be a valid IPv4 CIDR block such as 10.20.0.0/16."
  }

  validation {
    condition     = can(cidrhost(var.vpc_cidr, 0)) ? (tonumber(split("/", var.vpc_cidr)[1]) >= 16 && tonumber(split("/", var.vpc_cidr)[1]) <= 22) : false
    error_message = "vpc_cidr prefix length must be between /16 and /22."
  }
}

variable "availability_zones" {
  type        = list(string)
  description = "Availability zones to spread subnets over; one public and one private subnet per zone."

  validation {
    condition     = length(var.availability_zones) >= 2 && length(var.availability_zones) <= 6
    error_message = "availability_zones must list between 2 and 6 zones (EKS needs at least 2)."
  }

  validation {
    condition     = length(distinct(var.availability_zones)) == length(var.availability_zones)
    error_message = "availability_zones must not repeat a zone."
  }
}

variable "subnet_newbits" {
  type        = number
  description = "Bits added to the VPC prefix for each subnet (4 turns a /16 into /20 subnets)."
  default     = 4

  validation {
    condition     = var.subnet_newbits >= 2 && var.subnet_newbits <= 8 && pow(2, var.subnet_newbits) >= 2 * length(var.availability_zones)
    error_message = "subnet_newbits must be 2-8 and leave room for two subnets per availability zone."
  }
}

variable "single_nat_gateway" {
  type        = bool
  description = "Use one NAT gateway for all private subnets (cheaper, not zone-redundant) instead of one per zone."
  default     = false
}

variable "kubernetes_cluster_name" {
  type        = string
  description = "EKS cluster that shares this VPC; tags subnets for its load balancers. Null for no tags."
  default     = null

  validation {
    condition     = var.kubernetes_cluster_name == null || can(regex("^[a-zA-Z][a-zA-Z0-9-]{0,99}$", var.kubernetes_cluster_name))
    error_message = "kubernetes_cluster_name must start with a letter and contain only letters, digits and hyphens."
  }
}

variable "flow_log_traffic_type" {
  type        = string
  description = "Which traffic the VPC flow log records: ACCEPT, REJECT or ALL."
  default     = "ALL"

  validation {
    condition     = contains(["ACCEPT", "REJECT", "ALL"], var.flow_log_traffic_type)
    error_message = "flow_log_traffic_type must be ACCEPT, REJECT or ALL."
  }
}

variable "flow_log_retention_days" {
  type        = number
  description = "Days CloudWatch keeps VPC flow logs (one of the values CloudWatch accepts; at least 365 for audits)."
  default     = 365

  validation {
    condition     = contains([365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.flow_log_retention_days)
    error_message = "flow_log_retention_days must be a CloudWatch retention value of at least 365 days."
  }
}

variable "kms_key_deletion_window_days" {
  type        = number
  description = "Waiting period before the flow-log KMS key is deleted after destroy."
  default     = 30

  validation {
    condition     = var.kms_key_deletion_window_days >= 7 && var.kms_key_deletion_window_days <= 30
    error_message = "kms_key_deletion_window_days must be between 7 and 30."
  }
}

variable "tags" {
  type        = map(string)
  description = "Tags added to every resource of the module."
  default     = {}
}
