"""What the API does, apart from HTTP: each module one resource's rules."""
