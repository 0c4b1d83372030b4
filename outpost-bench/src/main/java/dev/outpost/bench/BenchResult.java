package dev.outpost.bench;

/**
 * One measured figure, in the form {@code outpost bench --json} prints.
 *
 * @param name what was measured, e.g. {@code durable enqueue, 1 writer}
 * @param system {@code outpost} or the peer measured ({@code tape}, {@code sqlite}, {@code fsync})
 * @param value the figure
 * @param unit its unit, e.g. {@code ops/s}, {@code ms}, {@code MB}, {@code %}
 */
public record BenchResult(String name, String system, double value, String unit) {
}
