package app

// ReconcilerRequeue lets the external tests run the reconciler's requeue step as wired.
var ReconcilerRequeue = reconcilerRequeue
