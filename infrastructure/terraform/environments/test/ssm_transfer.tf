# Ansible reaches the helper VMs through SSM (amazon.aws.aws_ssm connection; no SSH port, no
# bastion). The plugin moves modules and files through this bucket: the controller uploads,
# the instance downloads with a presigned URL over its HTTPS egress, the object is deleted.

# trivy:ignore:AVD-AWS-0089 Objects live for one Ansible task; access logs would outlive and outnumber them.
# trivy:ignore:AVD-AWS-0090 Transient transfer objects are deleted after each task; versioning would keep every module ever sent.
resource "aws_s3_bucket" "ansible_ssm" {
  # checkov:skip=CKV_AWS_18:Objects live for one Ansible task; access logs of a transfer bucket would outlive and outnumber them.
  # checkov:skip=CKV_AWS_21:Transient transfer objects are deleted after each task; versions would keep every module ever sent.
  # checkov:skip=CKV_AWS_144:A transfer bucket holds nothing worth replicating to another region.
  # checkov:skip=CKV2_AWS_62:Nothing consumes events of transient transfer objects.
  bucket_prefix = "${local.name}-ansible-ssm-"
  # Only transient objects: destroying the environment must not stop at a non-empty bucket.
  force_destroy = true

  tags = var.tags
}

resource "aws_s3_bucket_public_access_block" "ansible_ssm" {
  bucket                  = aws_s3_bucket.ansible_ssm.id
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_ownership_controls" "ansible_ssm" {
  bucket = aws_s3_bucket.ansible_ssm.id

  rule {
    object_ownership = "BucketOwnerEnforced"
  }
}

resource "aws_kms_key" "ansible_ssm" {
  description             = "Encrypts the Ansible SSM transfer bucket of ${local.name}"
  enable_key_rotation     = true
  deletion_window_in_days = 7
  policy                  = data.aws_iam_policy_document.ansible_ssm_key.json

  tags = var.tags
}

data "aws_caller_identity" "current" {}

data "aws_partition" "current" {}

data "aws_iam_policy_document" "ansible_ssm_key" {
  # checkov:skip=CKV_AWS_109:In a key policy "*" is this key; the account root must keep administering it.
  # checkov:skip=CKV_AWS_111:In a key policy "*" is this key; the account root must keep administering it.
  # checkov:skip=CKV_AWS_356:In a key policy "*" is this key, not every resource.
  statement {
    sid       = "AccountAdministersTheKey"
    actions   = ["kms:*"]
    resources = ["*"]

    principals {
      type        = "AWS"
      identifiers = ["arn:${data.aws_partition.current.partition}:iam::${data.aws_caller_identity.current.account_id}:root"]
    }
  }
}

resource "aws_s3_bucket_server_side_encryption_configuration" "ansible_ssm" {
  bucket = aws_s3_bucket.ansible_ssm.id

  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm     = "aws:kms"
      kms_master_key_id = aws_kms_key.ansible_ssm.arn
    }
    bucket_key_enabled = true
  }
}

resource "aws_s3_bucket_lifecycle_configuration" "ansible_ssm" {
  bucket = aws_s3_bucket.ansible_ssm.id

  # What a failed run leaves behind goes after a day.
  rule {
    id     = "expire-transfers"
    status = "Enabled"

    filter {}

    expiration {
      days = 1
    }

    abort_incomplete_multipart_upload {
      days_after_initiation = 1
    }
  }
}

data "aws_iam_policy_document" "ansible_ssm_bucket" {
  statement {
    sid       = "DenyInsecureTransport"
    effect    = "Deny"
    actions   = ["s3:*"]
    resources = [aws_s3_bucket.ansible_ssm.arn, "${aws_s3_bucket.ansible_ssm.arn}/*"]

    principals {
      type        = "*"
      identifiers = ["*"]
    }

    condition {
      test     = "Bool"
      variable = "aws:SecureTransport"
      values   = ["false"]
    }
  }
}

resource "aws_s3_bucket_policy" "ansible_ssm" {
  bucket = aws_s3_bucket.ansible_ssm.id
  policy = data.aws_iam_policy_document.ansible_ssm_bucket.json

  depends_on = [aws_s3_bucket_public_access_block.ansible_ssm]
}
