"""The public-key infrastructure of the trust model: root CA, organisations' CA, CSR signing."""
