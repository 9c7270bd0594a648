variable "name" {
  type        = string
  description = "Name prefix of the instances, their security group and IAM role."

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,30}[a-z0-9]$", var.name))
    error_message = "name must be 3-32 characters of lowercase letters, digits and hyphens, starting with a letter."
  }
}

variable "instance_count" {
  type        = number
  description = "Number of identical instances, spread round-robin over subnet_ids."
  default     = 1

  validation {
    condition     = var.instance_count >= 1 && var.instance_count <= 10 && floor(var.instance_count) == var.instance_count
    error_message = "instance_count must be a whole number between 1 and 10."
  }
}

variable "instance_type" {
  type        = string
  description = "EC2 instance type, e.g. t3.medium."
  default     = "t3.medium"

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]*\\.[a-z0-9]+$", var.instance_type))
    error_message = "instance_type must be an EC2 instance type such as t3.medium."
  }
}

variable "ami_id" {
  type        = string
  description = "AMI to boot; null resolves ami_ssm_parameter (the current Ubuntu LTS image) instead."
  default     = null

  validation {
    condition     = var.ami_id == null || can(regex("^ami-[0-9a-f]{8,17}$", var.ami_id))
    error_message = "ami_id must be null or an AMI ID such as ami-0123456789abcdef0."
  }
}

variable "ami_ssm_parameter" {
  type        = string
  description = "Public SSM parameter holding the AMI ID used when ami_id is null (Ubuntu, which the Ansible roles target)."
  default     = "/aws/service/canonical/ubuntu/server/24.04/stable/current/amd64/hvm/ebs-gp3/ami-id"

  validation {
    condition     = startswith(var.ami_ssm_parameter, "/aws/service/")
    error_message = "ami_ssm_parameter must be a public AWS SSM parameter path (/aws/service/...)."
  }
}

variable "vpc_id" {
  type        = string
  description = "VPC of the instances' security group."

  validation {
    condition     = can(regex("^vpc-[0-9a-f]+$", var.vpc_id))
    error_message = "vpc_id must be a VPC ID such as vpc-0123456789abcdef0."
  }
}

variable "subnet_ids" {
  type        = list(string)
  description = "Private subnets to place the instances in (instances get no public IP)."

  validation {
    condition     = length(var.subnet_ids) > 0 && alltrue([for id in var.subnet_ids : can(regex("^subnet-[0-9a-f]+$", id))])
    error_message = "subnet_ids must list at least one subnet ID such as subnet-0123456789abcdef0."
  }
}

variable "root_volume_size_gib" {
  type        = number
  description = "Size of the encrypted gp3 root volume in GiB."
  default     = 40

  validation {
    condition     = var.root_volume_size_gib >= 8 && var.root_volume_size_gib <= 1024
    error_message = "root_volume_size_gib must be between 8 and 1024."
  }
}

variable "root_volume_kms_key_arn" {
  type        = string
  description = "Customer-managed KMS key for the root volume; null uses the account's default EBS key."
  default     = null
}

variable "egress_rules" {
  type = map(object({
    description = string
    ip_protocol = string
    from_port   = number
    to_port     = number
    cidr_ipv4   = string
  }))
  description = "Outbound rules. The default allows only HTTPS (SSM, container registries, Docker's apt repo) and HTTP (Ubuntu's EC2 apt mirrors)."
  default = {
    https = {
      description = "HTTPS to SSM endpoints, container registries and Docker's apt repository"
      ip_protocol = "tcp"
      from_port   = 443
      to_port     = 443
      cidr_ipv4   = "0.0.0.0/0"
    }
    http = {
      description = "HTTP to the Ubuntu apt mirrors (packages are signed)"
      ip_protocol = "tcp"
      from_port   = 80
      to_port     = 80
      cidr_ipv4   = "0.0.0.0/0"
    }
  }

  validation {
    condition     = alltrue([for rule in values(var.egress_rules) : rule.ip_protocol != "-1" && length(rule.description) > 0 && can(cidrhost(rule.cidr_ipv4, 0))])
    error_message = "Each egress rule needs a description, a valid cidr_ipv4 and a concrete protocol (not -1)."
  }
}

variable "ingress_rules" {
  type = map(object({
    description = string
    ip_protocol = string
    from_port   = number
    to_port     = number
    cidr_ipv4   = string
  }))
  description = "Inbound rules; none by default because administration goes through SSM Session Manager."
  default     = {}

  validation {
    condition     = alltrue([for rule in values(var.ingress_rules) : length(rule.description) > 0 && can(cidrhost(rule.cidr_ipv4, 0)) && rule.cidr_ipv4 != "0.0.0.0/0"])
    error_message = "Each ingress rule needs a description and a valid cidr_ipv4 other than 0.0.0.0/0."
  }

  validation {
    condition     = alltrue([for rule in values(var.ingress_rules) : !(rule.from_port <= 22 && rule.to_port >= 22)])
    error_message = "Ingress rules must not open SSH (port 22); use SSM Session Manager."
  }
}

variable "tags" {
  type        = map(string)
  description = "Tags added to every resource of the module."
  default     = {}
}
