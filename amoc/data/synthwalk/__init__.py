"""synthwalk, the built-in synthetic dataset: identities, figures, rendering, generation."""
