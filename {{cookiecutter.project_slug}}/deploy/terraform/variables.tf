variable "project_id" {
  description = "The Google Cloud project to deploy into (its billing account must be set, even for the free tier)."
  type        = string
}

variable "region" {
  description = "Where the service and its image repository live."
  type        = string
  default     = "us-central1"
}

variable "service_name" {
  description = "The Cloud Run service's name, also the image repository's."
  type        = string
  default     = "{{ cookiecutter.project_slug }}"
}

variable "image" {
  description = "The serving image, in this project's Artifact Registry: REGION-docker.pkg.dev/PROJECT/SERVICE/SERVICE:TAG."
  type        = string
}

variable "github_repository" {
  description = "owner/name of the GitHub repository whose deploy workflow may push images and deploy."
  type        = string
}

variable "allow_public" {
  description = "true lets anyone on the internet call the API; false (the default) needs a Google identity token."
  type        = bool
  default     = false
}

variable "max_instances" {
  description = "The most containers Cloud Run starts under load; it scales to zero when idle."
  type        = number
  default     = 2
}

variable "prediction_log_secret" {
  description = "Name of a Secret Manager secret that holds PREDICTION_LOG_URL; empty keeps the log in the container (lost on restart)."
  type        = string
  default     = ""
}
