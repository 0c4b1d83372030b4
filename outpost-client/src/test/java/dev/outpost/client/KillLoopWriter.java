package dev.outpost.client;

import java.nio.file.Path;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * The child process of {@link DurabilityKillTest}: writes to a store as fast as it can from
 * several threads, single puts and batches, and prints {@code ack <id>} for each write whose
 * call has returned, until it is killed. One more thread rewrites and deletes a few records of
 * its own over and over, so that ops fold into earlier ones and a CREATE and DELETE cancel: it
 * prints {@code try <id> <value>} before each write and {@code set <id> <value>} once the call
 * has returned ({@code deleted} for a delete). Arguments: the store file, a prefix for record
 * ids, the number of threads and the {@link Durability} mode.
 */
public final class KillLoopWriter {
    private KillLoopWriter() {
    }

    public static void main(String[] args) throws Exception {
        Path file = Path.of(args[0]);
        String prefix = args[1];
        int threads = Integer.parseInt(args[2]);
        Durability durability = Durability.valueOf(args[3]);
        Outpost outpost = Outpost.open(OutpostConfig.builder().syncPolicy(SyncPolicy.MANUAL).storeFile(file)
                .durability(durability).build());
        AtomicInteger next = new AtomicInteger();
        System.out.println("ready");
        System.out.flush();
        Thread rewriter = new Thread(() -> {
            try {
                for (int n = 0; ; n++) {
                    String id = prefix + "u" + (n % 3);
                    if (n % 7 == 6) {
                        said("try " + id + " deleted");
                        outpost.delete("notes", id);
                        said("set " + id + " deleted");
                    } else {
                        said("try " + id + " " + n);
                        outpost.put("notes", id, "{\"v\":" + n + ",\"f" + (n % 4) + "\":" + n + "}");
                        said("set " + id + " " + n);
                    }
                }
            } catch (OutpostException e) {
                System.err.println("write failed: " + e);
            }
        });
        rewriter.start();
        for (int t = 0; t < threads; t++) {
            boolean batches = t % 2 == 1;
            Thread writer = new Thread(() -> {
                try {
                    while (true) {
                        if (batches) {
                            WriteBatch batch = outpost.newBatch();
                            int first = next.getAndAdd(5);
                            for (int i = first; i < first + 5; i++) {
                                batch.put("notes", prefix + i, "{\"n\":" + i + ",\"text\":\"" + "x".repeat(60) + "\"}");
                            }
                            batch.commit();
                            for (int i = first; i < first + 5; i++) {
                                ack(prefix + i);
                            }
                        } else {
                            int n = next.getAndIncrement();
                            outpost.put("notes", prefix + n, "{\"n\":" + n + ",\"text\":\"" + "x".repeat(60) + "\"}");
                            ack(prefix + n);
                        }
                    }
                } catch (OutpostException e) {
                    System.err.println("write failed: " + e);
                }
            });
            writer.start();
        }
    }

    private static void ack(String id) {
        said("ack " + id);
    }

    private static synchronized void said(String line) {
        System.out.println(line);
        System.out.flush();
    }
}
