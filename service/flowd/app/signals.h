#pragma once
// Stop signals: block SIGTERM and SIGINT in every thread (call first thing in main, before any
// thread starts), then wait for one on the main thread.
namespace flowd::app {

void block_stop_signals();
int wait_for_stop_signal();
const char* signal_name(int signal);

}  // namespace flowd::app
