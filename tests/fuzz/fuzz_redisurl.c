/* fuzz_redisurl.c -- the Redis URL parser, its describer and the redactor:
 * no crash on any input, and the text messages are built from does not
 * depend on the password. */
#include "fuzz.h"

#include "common/redisurl.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    log_set_level(LOG_ERROR);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *url = fuzz_cstr(data, size);
    char err[256];
    struct redis_url u = {0};
    char *red = redisurl_redact(url);
    if (redisurl_parse(url, &u, err, sizeof err) == 0) {
        /* The described text must not depend on the password: describing
         * the same URL with another password gives the same text. */
        char *d = redisurl_describe(&u);
        char *pw = u.password;
        u.password = (char *)"another password";
        char *d2 = redisurl_describe(&u);
        u.password = pw;
        if (pw && strcmp(d, d2) != 0)
            abort();
        free(d2);
        free(d);
    }
    redisurl_free(&u);
    free(red);
    free(url);
    return 0;
}
