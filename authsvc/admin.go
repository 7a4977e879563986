package main

// adminCommands are the client and token administration commands (issue 3:
// list-clients, list-tokens, revoke-user, delete-client, purge-expired …). Each needs
// needAdmin: configuration without GitHub credentials, Redis and keys, in env.
// Add one line per command, e.g.:
//
//	{"list-clients", "list registered clients", needAdmin, cmdListClients},
var adminCommands = []command{}
