"""Training: labelled data (:mod:`.data`), fitting a scorer (:mod:`.train`) and measuring it
(:mod:`.evaluation`)."""
