/* fuzz_json.c — libFuzzer target for the bounded JSON reader (csrc/json_mini.c)
 * that parses model-file headers: no crash, no read past `len`, no leak, and a
 * parsed document's lookups work. Faster than the whole-file target, so it
 * reaches deeper into the parser in the same time.
 * What it is not: a conformance test (tests/test_io.py compares with Python's json).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "json_mini.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    /* an exact-size copy, so ASan sees any read past the end */
    char *text = (char *)malloc(size ? size : 1);
    if (!text) return 0;
    if (size) memcpy(text, data, size);
    nj_doc doc;
    int st = nj_parse(&doc, text, size);
    if (st == 0) {
        if (!doc.root) abort();
        (void)nj_get(doc.root, "__metadata__");
        (void)nj_str_eq(nj_get(doc.root, "format"), "nncore");
    } else if (st != -1 && st != -2) {
        abort();
    }
    nj_free(&doc);
    free(text);
    return 0;
}
