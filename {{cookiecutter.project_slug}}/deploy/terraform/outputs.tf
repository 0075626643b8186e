output "url" {
  description = "The API's address."
  value       = google_cloud_run_v2_service.api.uri
}

output "image_repository" {
  description = "Push images here: the deploy workflow's GCP_IMAGE_REPOSITORY variable."
  value       = "${var.region}-docker.pkg.dev/${var.project_id}/${google_artifact_registry_repository.images.repository_id}"
}

output "workload_identity_provider" {
  description = "The deploy workflow's GCP_WORKLOAD_IDENTITY_PROVIDER variable."
  value       = google_iam_workload_identity_pool_provider.github.name
}

output "deployer_service_account" {
  description = "The deploy workflow's GCP_SERVICE_ACCOUNT variable."
  value       = google_service_account.deployer.email
}
