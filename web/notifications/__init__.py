"""Notifications: what happened for the member (an opinion answered, a vote opened, a rating window opened, a request answered), newest first, with the unread count in the menu."""
