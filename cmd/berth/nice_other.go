//go:build !linux

package main

// setNice does nothing outside Linux: the reconciler process keeps the
// priority berth serve has.
func setNice(int) error { return nil }
