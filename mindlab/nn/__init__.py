"""Neural-network building blocks: Cell, layers, losses, optimizers."""
