"""Graph -> Graph passes and the pipeline that orders them."""
