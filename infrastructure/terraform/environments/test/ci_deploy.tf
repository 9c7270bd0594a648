# The CI deploy path: GitHub Actions assumes this role through OIDC (no stored AWS keys) and
# deploys the Helm release. The EKS endpoint stays private, so the deploy job runs on a
# self-hosted runner on the helper VM inside the VPC (its security group reaches the API on 443).

resource "aws_iam_openid_connect_provider" "github" {
  url            = "https://token.actions.githubusercontent.com"
  client_id_list = ["sts.amazonaws.com"]
  # AWS trusts GitHub's OIDC root CAs itself; the thumbprint is kept for older provider logic.
  thumbprint_list = ["6938fd4d98bab03faadb97b34396831e3780aea1"]

  tags = var.tags
}

data "aws_iam_policy_document" "ci_deploy_assume" {
  statement {
    actions = ["sts:AssumeRoleWithWebIdentity"]

    principals {
      type        = "Federated"
      identifiers = [aws_iam_openid_connect_provider.github.arn]
    }

    condition {
      test     = "StringEquals"
      variable = "token.actions.githubusercontent.com:aud"
      values   = ["sts.amazonaws.com"]
    }

    # Only jobs of this repository that run in its GitHub environment for this deployment.
    condition {
      test     = "StringEquals"
      variable = "token.actions.githubusercontent.com:sub"
      values   = ["repo:${var.github_repository}:environment:${var.environment}"]
    }
  }
}

resource "aws_iam_role" "ci_deploy" {
  name_prefix          = "${local.name}-ci-deploy-"
  description          = "GitHub Actions deploys of ${var.github_repository} to ${local.cluster_name}"
  assume_role_policy   = data.aws_iam_policy_document.ci_deploy_assume.json
  max_session_duration = 3600

  tags = var.tags
}

# `aws eks update-kubeconfig` needs DescribeCluster; everything else is Kubernetes RBAC from the
# access entry (AmazonEKSAdminPolicy in the platform's namespace only).
data "aws_iam_policy_document" "ci_deploy" {
  statement {
    actions   = ["eks:DescribeCluster"]
    resources = [module.kubernetes_cluster.cluster_arn]
  }
}

resource "aws_iam_role_policy" "ci_deploy" {
  name   = "describe-cluster"
  role   = aws_iam_role.ci_deploy.id
  policy = data.aws_iam_policy_document.ci_deploy.json
}
