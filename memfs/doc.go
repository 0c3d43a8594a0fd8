// Package memfs keeps the ledger of in-memory scratch space (a tmpfs per container, /tmp by
// default) per tenant (namespace) and per host, and decides for each new container whether its
// scratch lives in memory, and how big, or on disk.
//
// # Contract
//
// A container's scratch size is min(Config.CapBytes, action memory − predicted heap peak −
// Config.HeadroomMB), never unset (an unset tmpfs size means half of the host's RAM) and never
// below Config.MinBytes: if even that does not fit in the action's memory, the scratch goes to
// disk. tmpfs pages are charged to the container's memory cgroup and cannot be reclaimed without
// swap, so a tmpfs must stay below the memory limit (then a full scratch gives a clean ENOSPC,
// not an OOM kill) and its bytes are never lent by the harvester.
//
// Each tenant has a budget (Config.TenantBytes, or its own in Config.Tenants) and the host has
// one (Config.HostBytes). A memory reservation counts against both, in full, for as long as the
// container lives. When a new container does not fit, the ledger may shrink idle memory
// reservations of the same tenant — never another tenant's — down to their reported use plus
// Config.SlackBytes (and not below MinBytes), idle longest first: the unused part of one
// container's reservation backs another of the same tenant. If that is not enough, the new
// container gets disk-backed scratch instead (a per-container host directory), never a
// smaller tmpfs: a size is either the computed one in memory, or disk.
//
// Invariants (checked by the randomized test): no tenant's reservations exceed its budget, the
// host's reservations do not exceed the host budget, no reservation is below MinBytes or below
// the container's reported use, and a request of one tenant never changes another tenant's
// reservations.
//
// # Caller's duties
//
// The Ledger is a pure core: no IO, time is an argument, not safe for concurrent use. The edge
// (the sandbox, with memfs/mount):
//
//   - calls Reserve before creating a container, first carries out Decision.Shrinks (remounting
//     those containers' tmpfs with the smaller size; a remount cannot go below the data it holds)
//     and reports a failed one with ShrinkFailed, which returns the decision to use instead;
//     then mounts the scratch the Decision says;
//   - reports scratch use with Usage (e.g. from statfs on the mount), and SetIdle when an
//     activation ends (idle) or starts (busy) in the container; SetIdle(busy) may return a
//     Resize growing the reservation back, to carry out the same way (growing always works);
//   - calls RecordENOSPC when a write to the scratch fails with ENOSPC, and Release when the
//     container is removed.
package memfs
