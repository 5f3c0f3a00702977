"""HTTP resources of the kernel: definitions (deploy, adopt), instances and their history, tasks."""
