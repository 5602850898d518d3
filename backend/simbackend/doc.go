// Package simbackend is a simulated cloud for occid: a backend.Driver that
// runs no virtual machine at all. It is the development default (sim://),
// the fake behind the engine's tests and the reference driver of the
// backendtest conformance suite. It is a simulator, never the real thing:
// nothing it reports exists outside this process and its state file.
//
// # What is simulated
//
// Every Infrastructure 1.2 kind (compute, storage, network,
// networkinterface, storagelink), every action (compute start, stop,
// restart, suspend, save; network up, down; storage online, offline) and the
// ssh_key, user_data, ipnetwork and ipnetworkinterface mixins. Templates are
// the OS templates debian-12, ubuntu-24.04 and tinyos, the resource templates
// small (1 core, 1 GiB), medium (2 cores, 4 GiB) and large (4 cores, 8 GiB),
// and every template saved from a compute. Template names are unique across
// both types, so a mixin term alone tells which template an Update means.
//
// # State machines
//
// Compute: created inactive; start goes from inactive, suspended or error
// to active; stop from active, suspended or error to inactive; suspend from
// active to suspended; restart and save need active and end active. Storage:
// created offline; online from offline or error; offline from online or
// error. Network: created inactive; up from inactive or error; down from
// active or error. Any other action is refused with an error that ErrorCode
// classifies as FailedPrecondition, and an action on an object that is in
// the middle of another operation is refused as Conflict. An action made to
// fail with FailNext moves the object to error, as the specification's state
// machines say; save is the exception and leaves the compute as it was.
// Delete is allowed in every state.
//
// Links have no actions. A link is active while its source compute is active
// and its target, when it is a network or storage of this simulator, is
// active or online; otherwise it is inactive. Deleting a compute deletes its
// links; deleting a network or a storage deletes the links that point to it.
//
// # The simulated disk
//
// Each compute has a disk with a boot counter, like the tinyos test guest:
// every boot (start from inactive or error, restart, the start at the end of
// a deferred save, a re-image of an active compute) increments it; resuming a
// suspended compute does not. A compute created from a saved template starts
// with the counter the source had when it was saved, which is how tests prove
// that save carries disk state. The counter is not an OCCI attribute; tests
// read it with (*Driver).Disk.
//
// # Backend-assigned attributes
//
// Observations carry occi.compute.hostname (default "vm-" and the first eight
// characters of the entity id), occi.compute.cores and occi.compute.memory
// (from the resource template, else the entity, else 1 core and 1 GiB),
// occi.storage.size, for ipnetwork networks occi.network.address, gateway
// and allocation (a free 10.N.0.0/24 when none is given),
// occi.networkinterface.mac (02:…, locally administered) and interface
// (eth0, eth1, … per compute), for ipnetworkinterface links the address (the
// next free host of the network when allocation is dynamic), allocation and
// gateway, and occi.storagelink.deviceid (/dev/vdb, /dev/vdc, … per compute).
//
// # Timing
//
// With Options.Delay zero every operation completes at once. Otherwise a
// boot or a stop (start from inactive, stop, restart) takes Delay; resume,
// suspend, up, down, online and offline take Delay/4; create and delete take
// Delay/10. A hot save copies the disk at once and the template goes from
// saving to ready in four progress steps over Delay. A deferred save stops the
// compute (Delay, message "stopping for save"), copies its disk, starts it
// again (Delay, message "starting after save") and only then returns; the
// template then becomes ready as for a hot save. Every wait honours ctx: a
// cancelled operation returns ctx's error and leaves the object in the state
// it had before (a deferred save cancelled after its stop restarts the
// compute at once).
//
// # Persistence
//
// With Options.Dir empty the simulator lives in memory. Otherwise its whole
// state is one JSON file, state.json in Dir, rewritten atomically (write,
// fsync, rename, fsync of the directory) after every change, so closing and
// reopening loses nothing. Only one Driver may use a Dir at a time: Open
// locks it (flock, on Unix) and fails with a Conflict error while another
// driver holds it. On reopen,
// a template still saving resumes its copy and becomes ready after Delay (its
// disk was captured when the save started), and an object caught in the
// middle of an action is left in the state it had before that action with an
// empty message: an interrupted start leaves an inactive compute, an
// interrupted deferred save leaves the compute where its stop had got to and
// no template.
//
// # Fault injection and out-of-band changes
//
// FailNext makes the next operation of a given name fail; Kill and PowerOff
// stop a running compute behind the engine's back and Vanish deletes an
// object out of band. Each out-of-band change is sent to every Watch
// callback, as is the end of every background template copy.
package simbackend
