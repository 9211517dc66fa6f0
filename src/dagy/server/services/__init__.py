"""Background loops of the server: the reaper now; scheduler, sensors, dispatcher later."""
