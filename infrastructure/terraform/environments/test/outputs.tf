output "vpc_id" {
  description = "ID of the test VPC."
  value       = module.network.vpc_id
}

output "private_subnet_ids" {
  description = "Private subnets of the test VPC."
  value       = module.network.private_subnet_ids
}

output "nat_gateway_public_ips" {
  description = "Egress IPs of the environment (allow-list them for registries or webhooks)."
  value       = module.network.nat_gateway_public_ips
}

output "eks_cluster_name" {
  description = "Name of the EKS cluster."
  value       = module.kubernetes_cluster.cluster_name
}

output "eks_cluster_endpoint" {
  description = "Kubernetes API endpoint of the cluster."
  value       = module.kubernetes_cluster.cluster_endpoint
}

output "eks_oidc_provider_arn" {
  description = "IAM OIDC provider ARN for IRSA roles of the platform's service accounts."
  value       = module.kubernetes_cluster.oidc_provider_arn
}

output "update_kubeconfig_command" {
  description = "Command that writes a kubeconfig entry for the cluster (run it on a helper VM)."
  value       = "aws eks update-kubeconfig --region ${var.aws_region} --name ${module.kubernetes_cluster.cluster_name}"
}

output "helper_vm_instance_ids" {
  description = "Instance IDs of the helper VMs (aws ssm start-session --target <id>)."
  value       = module.helper_vms.instance_ids
}

output "helper_vm_private_ips" {
  description = "Private IPs of the helper VMs, for infrastructure/ansible/inventories/test/hosts.yml."
  value       = module.helper_vms.private_ips
}

output "ci_deploy_role_arn" {
  description = "Role GitHub Actions assumes (aws-actions/configure-aws-credentials role-to-assume) to deploy."
  value       = aws_iam_role.ci_deploy.arn
}

output "ansible_ssm_bucket_name" {
  description = "Transfer bucket of Ansible's SSM connection (ansible_aws_ssm_bucket_name in the inventory)."
  value       = aws_s3_bucket.ansible_ssm.id
}
