# Versions served in staging. gitops-bot edits the two version strings in place.
chat_llm_version = "1.4.2"

reranker = {
  model_version = "3.1.0" # MLflow model "reranker", alias "champion"
  replicas      = 2
}
