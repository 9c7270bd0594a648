output "instance_ids" {
  description = "IDs of the instances (targets for `aws ssm start-session --target ...`)."
  value       = aws_instance.this[*].id
}

output "private_ips" {
  description = "Private IPv4 addresses of the instances, e.g. for the Ansible inventory."
  value       = aws_instance.this[*].private_ip
}

output "security_group_id" {
  description = "Security group of the instances; reference it in other groups' rules."
  value       = aws_security_group.this.id
}

output "iam_role_arn" {
  description = "ARN of the instances' IAM role (e.g. for an EKS access entry)."
  value       = aws_iam_role.this.arn
}

output "iam_role_name" {
  description = "IAM role of the instances; attach extra policies to it."
  value       = aws_iam_role.this.name
}

output "instance_profile_name" {
  description = "Instance profile that carries the IAM role."
  value       = aws_iam_instance_profile.this.name
}
