"""Identity proofing (GPG 45): recorded evidence, identity officers, council record checks
and identity-proving providers; the source of a person's identity confidence (DESIGN.md §2).
"""
