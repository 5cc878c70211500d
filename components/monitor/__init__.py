"""Monitoring job: score the RAG service's recent traces and raise the quality-drop event."""
