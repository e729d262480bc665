"""THA4 networks, one module per network, with state-dict keys identical to the official files."""
