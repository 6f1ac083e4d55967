# A perl text-processing workload for the drop-in malloc.
use strict;
use warnings;
my %count;
my @lines;
for my $i (1 .. 60000) {
    my $line = join(' ', map { "w" . (($i * $_) % 1013) } 1 .. (1 + $i % 12));
    push @lines, $line;
}
for my $line (@lines) {
    $count{$_}++ for split / /, $line;
}
my @top = (sort { $count{$b} <=> $count{$a} || $a cmp $b } keys %count)[0 .. 9];
print join(",", map { "$_=$count{$_}" } @top), "\n";
my $joined = join("\n", reverse @lines);
$joined =~ s/w(\d+)/W$1/g;
print length($joined), " ", scalar(keys %count), "\n";
