# Who may use the Kubernetes API (access entries of the EKS API; no aws-auth ConfigMap).
# Least privilege: administrators (the admin VM) get the cluster; deployers (the CI role) get
# AmazonEKSAdminPolicy inside deployer_namespaces only, enough for a Helm release there.

resource "aws_eks_access_entry" "admin" {
  for_each = var.cluster_admin_role_arns

  cluster_name  = aws_eks_cluster.this.name
  principal_arn = each.value
  type          = "STANDARD"

  tags = var.tags
}

resource "aws_eks_access_policy_association" "admin" {
  for_each = var.cluster_admin_role_arns

  cluster_name  = aws_eks_cluster.this.name
  principal_arn = aws_eks_access_entry.admin[each.key].principal_arn
  policy_arn    = "arn:${local.partition}:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy"

  access_scope {
    type = "cluster"
  }
}

resource "aws_eks_access_entry" "deployer" {
  for_each = var.namespace_deployer_role_arns

  cluster_name  = aws_eks_cluster.this.name
  principal_arn = each.value
  type          = "STANDARD"

  tags = var.tags
}

resource "aws_eks_access_policy_association" "deployer" {
  for_each = var.namespace_deployer_role_arns

  cluster_name  = aws_eks_cluster.this.name
  principal_arn = aws_eks_access_entry.deployer[each.key].principal_arn
  policy_arn    = "arn:${local.partition}:eks::aws:cluster-access-policy/AmazonEKSAdminPolicy"

  access_scope {
    type       = "namespace"
    namespaces = var.deployer_namespaces
  }
}
