package meta

// LockPublish is the advisory lock key of the right to publish, for tests
// that play a publisher from another process.
const LockPublish = lockPublish
