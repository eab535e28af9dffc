/* uuid.h -- random (version 4) UUIDs, RFC 4122: the trace ids of tasks. */
#ifndef TK_UUID_H
#define TK_UUID_H

/* Format 16 bytes as a version 4 UUID (sets the version and variant bits);
 * out gets 36 characters and a NUL. */
void uuid_format(const unsigned char bytes[16], char out[37]);
/* A new random UUID from getrandom(2).  0, or -1 with errno. */
int uuid_new(char out[37]);

#endif
