provider "aws" {
  region = var.aws_region

  default_tags {
    tags = {
      Project     = "sbs-platform"
      Environment = var.environment
      ManagedBy   = "terraform"
    }
  }
}
