data "aws_partition" "current" {}

data "aws_ssm_parameter" "ami" {
  count = var.ami_id == null ? 1 : 0

  name = var.ami_ssm_parameter
}

locals {
  ami_id = var.ami_id != null ? var.ami_id : data.aws_ssm_parameter.ami[0].insecure_value
}

# --- Access through SSM Session Manager instead of SSH ------------------------------

data "aws_iam_policy_document" "assume" {
  statement {
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["ec2.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "this" {
  name_prefix        = "${var.name}-"
  assume_role_policy = data.aws_iam_policy_document.assume.json

  tags = var.tags
}

resource "aws_iam_role_policy_attachment" "ssm" {
  role       = aws_iam_role.this.name
  policy_arn = "arn:${data.aws_partition.current.partition}:iam::aws:policy/AmazonSSMManagedInstanceCore"
}

resource "aws_iam_instance_profile" "this" {
  name_prefix = "${var.name}-"
  role        = aws_iam_role.this.name

  tags = var.tags
}

# --- Network access: only the rules listed in the variables --------------------------

resource "aws_security_group" "this" {
  name_prefix = "${var.name}-"
  description = "Helper VMs ${var.name}: explicit egress only, ingress as configured"
  vpc_id      = var.vpc_id

  tags = merge(var.tags, { Name = var.name })

  lifecycle {
    create_before_destroy = true
  }
}

# trivy:ignore:AVD-AWS-0104 Egress is limited to the ports of egress_rules (443 and 80 by default): SSM, ECR/GHCR/Docker Hub and apt mirrors have no fixed addresses, so the destination cannot be narrower than 0.0.0.0/0.
resource "aws_vpc_security_group_egress_rule" "this" {
  for_each = var.egress_rules

  security_group_id = aws_security_group.this.id
  description       = each.value.description
  ip_protocol       = each.value.ip_protocol
  from_port         = each.value.from_port
  to_port           = each.value.to_port
  cidr_ipv4         = each.value.cidr_ipv4

  tags = merge(var.tags, { Name = "${var.name}-egress-${each.key}" })
}

resource "aws_vpc_security_group_ingress_rule" "this" {
  for_each = var.ingress_rules

  security_group_id = aws_security_group.this.id
  description       = each.value.description
  ip_protocol       = each.value.ip_protocol
  from_port         = each.value.from_port
  to_port           = each.value.to_port
  cidr_ipv4         = each.value.cidr_ipv4

  tags = merge(var.tags, { Name = "${var.name}-ingress-${each.key}" })
}

# --- Instances ------------------------------------------------------------------------

resource "aws_instance" "this" {
  count = var.instance_count

  ami                         = local.ami_id
  instance_type               = var.instance_type
  subnet_id                   = var.subnet_ids[count.index % length(var.subnet_ids)]
  vpc_security_group_ids      = [aws_security_group.this.id]
  iam_instance_profile        = aws_iam_instance_profile.this.name
  associate_public_ip_address = false
  ebs_optimized               = true
  monitoring                  = true

  metadata_options {
    http_endpoint               = "enabled"
    http_tokens                 = "required"
    http_put_response_hop_limit = 1
    instance_metadata_tags      = "disabled"
  }

  root_block_device {
    volume_type           = "gp3"
    volume_size           = var.root_volume_size_gib
    encrypted             = true
    kms_key_id            = var.root_volume_kms_key_arn
    delete_on_termination = true

    tags = merge(var.tags, { Name = "${var.name}-${count.index + 1}-root" })
  }

  tags = merge(var.tags, { Name = "${var.name}-${count.index + 1}" })

  lifecycle {
    # A new AMI in the SSM parameter must not replace running machines; roll them on purpose.
    ignore_changes = [ami]
  }

  depends_on = [aws_iam_role_policy_attachment.ssm]
}
