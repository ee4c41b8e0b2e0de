"""The running agent: store, configuration, features, predictors, engine, outbox and the CLI."""
