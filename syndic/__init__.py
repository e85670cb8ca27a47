"""syndic: one post from a developer tool, published to up to nine platforms."""
