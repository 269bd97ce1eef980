# The seed policy: GPU node pools (the example repository's terraform_data-shaped pools, or a
# cloud's node pool resource with the same inputs) stay within a node count and known GPU machine
# types, and a plan that raises the hourly cost by more than a threshold is called out.
package main

import rego.v1

max_gpu_nodes := 8

allowed_machine_types := {"g2-standard-8", "g2-standard-16", "a2-highgpu-1g"}

# $/hour per node, by machine type.
hourly_price := {"g2-standard-8": 0.85, "g2-standard-16": 1.15, "a2-highgpu-1g": 3.67}

cost_warning_threshold := 5

gpu_pools contains change if {
	some change in input.resource_changes
	change.change.after.input.accelerator
	not "delete" in change.change.actions
}

deny contains msg if {
	some change in gpu_pools
	nodes := change.change.after.input.autoscaling.max
	nodes > max_gpu_nodes
	msg := sprintf("%s: GPU node pool allows %d nodes, more than the maximum of %d", [change.address, nodes, max_gpu_nodes])
}

deny contains msg if {
	some change in gpu_pools
	machine := change.change.after.input.machine_type
	not machine in allowed_machine_types
	msg := sprintf("%s: machine type %s is not an allowed GPU machine type", [change.address, machine])
}

hourly(pool) := hourly_price[pool.machine_type] * pool.autoscaling.max

hourly(pool) := 0 if not hourly_price[pool.machine_type]

before_cost(change) := hourly(change.change.before.input) if change.change.before.input

before_cost(change) := 0 if not change.change.before.input

warn contains msg if {
	some change in gpu_pools
	delta := hourly(change.change.after.input) - before_cost(change)
	delta > cost_warning_threshold
	msg := sprintf("%s: at most $%.2f/hour more", [change.address, delta])
}
