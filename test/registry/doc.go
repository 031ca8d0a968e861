// Package registry runs a stock container registry (distribution v3, the
// version test/go.mod pins, filesystem storage driver) on an ossmount mount,
// as child processes, and talks to it over the OCI distribution API.
//
// The tests in this package push and pull real images through such a
// registry, run the registry's own storage driver conformance suite on the
// mount, kill the mount mid-life, garbage-collect, serve a second read-only
// mount, and check that the bucket ends up with exactly the keys
// distribution's own OSS driver would have written.
//
// Everything FUSE-related (building ossmount, the OSS server, mounts) comes
// from package harness; this package adds the registry on top.
package registry
