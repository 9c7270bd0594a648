# What the charts need from the cluster, pinned: networking (vpc-cni, kube-proxy, coredns), the
# EKS Pod Identity agent, and the EBS CSI driver that provisions the PersistentVolumes of the
# PostgreSQL, Redis and NATS StatefulSets, with its own IAM role and a default gp3 StorageClass.

locals {
  # Installed before the nodes join: without the CNI no node becomes Ready.
  network_addons = toset(["vpc-cni", "kube-proxy"])
  # Scheduled on nodes, so they wait for the node group.
  node_addons = toset(["coredns", "eks-pod-identity-agent"])
}

resource "aws_eks_addon" "network" {
  for_each = local.network_addons

  cluster_name                = aws_eks_cluster.this.name
  addon_name                  = each.key
  addon_version               = var.addon_versions[each.key]
  resolve_conflicts_on_create = "OVERWRITE"
  resolve_conflicts_on_update = "PRESERVE"

  tags = var.tags
}

resource "aws_eks_addon" "node" {
  for_each = local.node_addons

  cluster_name                = aws_eks_cluster.this.name
  addon_name                  = each.key
  addon_version               = var.addon_versions[each.key]
  resolve_conflicts_on_create = "OVERWRITE"
  resolve_conflicts_on_update = "PRESERVE"

  tags = var.tags

  depends_on = [aws_eks_node_group.default]
}

data "aws_iam_policy_document" "ebs_csi_assume" {
  statement {
    actions = ["sts:AssumeRole", "sts:TagSession"]

    principals {
      type        = "Service"
      identifiers = ["pods.eks.amazonaws.com"]
    }
  }
}

# EKS Pod Identity hands this role to the driver's controller ServiceAccount only.
resource "aws_iam_role" "ebs_csi" {
  name_prefix        = "${var.cluster_name}-ebs-csi-"
  assume_role_policy = data.aws_iam_policy_document.ebs_csi_assume.json

  tags = var.tags
}

resource "aws_iam_role_policy_attachment" "ebs_csi" {
  role       = aws_iam_role.ebs_csi.name
  policy_arn = "arn:${local.partition}:iam::aws:policy/service-role/AmazonEBSCSIDriverPolicy"
}

resource "aws_eks_addon" "ebs_csi" {
  cluster_name                = aws_eks_cluster.this.name
  addon_name                  = "aws-ebs-csi-driver"
  addon_version               = var.addon_versions["aws-ebs-csi-driver"]
  resolve_conflicts_on_create = "OVERWRITE"
  resolve_conflicts_on_update = "PRESERVE"

  pod_identity_association {
    role_arn        = aws_iam_role.ebs_csi.arn
    service_account = "ebs-csi-controller-sa"
  }

  # The add-on creates the StorageClass ebs-csi-default-sc (gp3, encrypted, WaitForFirstConsumer)
  # and marks it default, so the charts' PersistentVolumeClaims bind without a storageClass.
  configuration_values = jsonencode({
    defaultStorageClass = { enabled = true }
  })

  tags = var.tags

  depends_on = [
    aws_eks_addon.node,
    aws_iam_role_policy_attachment.ebs_csi,
  ]
}
