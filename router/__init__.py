"""The running agent: store, configuration, features, predictors, engine, outbox and the CLI."""

from embeddings.native_threads import prefer_passive_waits

# Before anything of router's loads a native library: loading a saved classifier (skops, scikit-learn) pulls in
# torch and the OpenMP runtimes, each of which reads its wait policy once, when it loads. Set later (when the
# encoder first loads its model), the setting came too late in every process that loaded a classifier first, and
# torch's threads spun on the shared cores: one ticket's routing took ~840 ms at the median instead of ~200 ms
# (2 busy cores, the demo's models; docs/speed.md).
prefer_passive_waits()
