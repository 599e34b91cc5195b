"""The app's screens: unlock, chat, memory, learning, help, and the small dialogs."""
