"""The speed benchmark (`python -m amoc.bench`): training, data pipeline, features, evaluation, flow."""
