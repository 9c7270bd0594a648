# Test environment: network -> EKS -> helper VMs.

locals {
  name         = "sbs-${var.environment}"
  cluster_name = "${local.name}-eks"
}

module "network" {
  source = "../../modules/network"

  name               = local.name
  vpc_cidr           = var.vpc_cidr
  availability_zones = var.availability_zones
  # One NAT gateway keeps the test environment cheap; production uses one per zone.
  single_nat_gateway      = true
  kubernetes_cluster_name = local.cluster_name
  tags                    = var.tags
}

module "kubernetes_cluster" {
  source = "../../modules/kubernetes_cluster"

  cluster_name       = local.cluster_name
  kubernetes_version = var.kubernetes_version
  subnet_ids         = module.network.private_subnet_ids

  endpoint_private_access = true
  endpoint_public_access  = var.eks_endpoint_public_access
  public_access_cidrs     = var.eks_public_access_cidrs

  node_instance_types = var.eks_node_instance_types
  node_min_size       = var.eks_node_count
  node_desired_size   = var.eks_node_count
  node_max_size       = var.eks_node_count * 2

  # The helper VM administers the cluster; CI deploys only into the platform's namespace.
  cluster_admin_role_arns      = { helper_vm = module.helper_vms.iam_role_arn }
  namespace_deployer_role_arns = { ci = aws_iam_role.ci_deploy.arn }
  deployer_namespaces          = [var.kubernetes_namespace]

  tags = var.tags
}

module "helper_vms" {
  source = "../../modules/virtual_machine"

  name           = "${local.name}-helper"
  instance_count = var.helper_vm_count
  instance_type  = var.helper_vm_instance_type
  vpc_id         = module.network.vpc_id
  subnet_ids     = module.network.private_subnet_ids

  # The Ansible-deployed SBS API listens on 8000; only clients inside the VPC reach it.
  ingress_rules = {
    sbs_api = {
      description = "SBS API from inside the VPC"
      ip_protocol = "tcp"
      from_port   = 8000
      to_port     = 8000
      cidr_ipv4   = module.network.vpc_cidr_block
    }
  }

  tags = var.tags
}

# The helper VMs administer the private EKS API, so they may reach it on 443.
resource "aws_vpc_security_group_ingress_rule" "eks_api_from_helper_vms" {
  security_group_id            = module.kubernetes_cluster.cluster_security_group_id
  referenced_security_group_id = module.helper_vms.security_group_id
  description                  = "Kubernetes API from the helper VMs"
  ip_protocol                  = "tcp"
  from_port                    = 443
  to_port                      = 443
}
