#include "bench.h"

/* CRC-16/CCITT-FALSE (poly 0x1021, init 0xFFFF), bit by bit, like the Python kernel. */
static int64_t crc16(const uint8_t *data, int64_t n) {
    int64_t crc = 0xFFFF;
    for (int64_t i = 0; i < n; i++) {
        crc ^= (int64_t)data[i] << 8;
        for (int bit = 0; bit < 8; bit++) {
            if (crc & 0x8000)
                crc = ((crc << 1) ^ 0x1021) & 0xFFFF;
            else
                crc = (crc << 1) & 0xFFFF;
        }
    }
    return crc;
}

BENCH_ENTRY static int64_t entry(const uint8_t *data, int64_t n) { return crc16(data, n); }

int64_t run_crc16(int64_t reps, const uint8_t *data, int64_t n) {
    int64_t crc = 0;
    for (int64_t r = 0; r < reps; r++) crc = entry(data, n);
    return crc;
}
