#!/usr/bin/perl
# Expands the directives of a release's hand part (pg_alphadome/sql/upgrade/FROM--TO.sql), so
# that state is written once, in sql/schema.sql, and the upgrade takes it from there:
#   --@ create NAME                      the CREATE TABLE / DOMAIN / SEQUENCE / [UNIQUE] INDEX
#                                        statement of NAME, as schema.sql has it
#   --@ add-columns TABLE COLUMN...      ALTER TABLE TABLE ADD COLUMN each COLUMN, defined as in
#                                        schema.sql's CREATE TABLE TABLE
#   --@ replace-check TABLE COLUMN       the column's CHECK made anew (TABLE_COLUMN_check)
#   --@ replace-domain-check DOMAIN      the domain's CHECK made anew (DOMAIN_check)
#   --@ set-default TABLE COLUMN         the column's DEFAULT as schema.sql gives it
#   --@ alter TABLE COLUMN               schema.sql's ALTER TABLE TABLE statement that adds
#                                        COLUMN (columns a release appends to an older table)
# Every other line is copied as it is. Usage: hand-part.pl SCHEMA_SQL HAND_PART
use strict;
use warnings;

my ($schema_file, $hand_file) = @ARGV;
die "usage: $0 SCHEMA_SQL HAND_PART\n" unless defined $hand_file;
open(my $fh, '<', $schema_file) or die "hand-part: cannot read $schema_file: $!\n";
my @schema = <$fh>;
close $fh;

sub fail { die "hand-part: $_[0] (directive: $_[1])\n"; }

# The statement of schema.sql that begins with a line matching $start, through the first line
# (not a comment) that ends with a semicolon.
sub statement {
    my ($start, $directive) = @_;
    for my $i (0 .. $#schema) {
        next unless $schema[$i] =~ $start;
        my @lines;
        for my $j ($i .. $#schema) {
            push @lines, $schema[$j];
            return join('', @lines) if $schema[$j] =~ /;\s*$/ && $schema[$j] !~ /^\s*--/;
        }
    }
    fail("schema.sql has no such statement", $directive);
}

# The ALTER TABLE $table statement of schema.sql that adds $column.
sub alter_statement {
    my ($table, $column, $directive) = @_;
    for my $i (0 .. $#schema) {
        next unless $schema[$i] =~ /^ALTER TABLE \Q$table\E(?:\s|$)/;
        my @lines;
        for my $j ($i .. $#schema) {
            push @lines, $schema[$j];
            last if $schema[$j] =~ /;\s*$/ && $schema[$j] !~ /^\s*--/;
        }
        my $text = join('', @lines);
        return $text if $text =~ /\bADD COLUMN \Q$column\E\s/;
    }
    fail("schema.sql has no ALTER TABLE $table that adds $column", $directive);
}

# The lines of CREATE TABLE $table's body.
sub table_body {
    my ($table, $directive) = @_;
    my $text = statement(qr/^CREATE TABLE \Q$table\E \(\s*$/, $directive);
    my @lines = split /\n/, $text;
    return @lines[1 .. $#lines - 1];
}

# A column's definition in a table body: its line and the deeper-indented lines that go on with
# it, comments left out, without the trailing comma.
sub column_definition {
    my ($table, $column, $directive) = @_;
    my @body = table_body($table, $directive);
    for my $i (0 .. $#body) {
        next unless $body[$i] =~ /^    \Q$column\E\s/;
        my @definition = ($body[$i]);
        for my $j ($i + 1 .. $#body) {
            last unless $body[$j] =~ /^     / && $body[$j] !~ /^\s*--/;
            push @definition, $body[$j];
        }
        my $text = join("\n", @definition);
        $text =~ s/^\s+//;
        $text =~ s/,\s*$//;
        return $text;
    }
    fail("CREATE TABLE $table in schema.sql has no column $column", $directive);
}

# The first CHECK (...) of a text, its parentheses balanced (quoted strings skipped).
sub check_of {
    my ($text, $directive) = @_;
    my $at = index($text, 'CHECK (');
    fail("no CHECK", $directive) if $at < 0;
    my ($depth, $quoted) = (0, 0);
    for my $i ($at + 6 .. length($text) - 1) {
        my $c = substr($text, $i, 1);
        if ($c eq "'") { $quoted = !$quoted; next; }
        next if $quoted;
        $depth++ if $c eq '(';
        $depth-- if $c eq ')';
        return substr($text, $at, $i - $at + 1) if $depth == 0;
    }
    fail("unbalanced CHECK", $directive);
}

sub unqualified { my ($name) = @_; $name =~ s/^.*\.//; return $name; }

open($fh, '<', $hand_file) or die "hand-part: cannot read $hand_file: $!\n";
while (my $line = <$fh>) {
    unless ($line =~ /^--@\s+(\S+)\s*(.*?)\s*$/) {
        print $line;
        next;
    }
    my ($verb, @words) = ($1, split(/\s+/, $2));
    my $directive = $line =~ s/\s+$//r;
    print "-- $directive (from sql/schema.sql)\n";
    if ($verb eq 'create' && @words == 1) {
        my $name = $words[0];
        print statement(qr/^CREATE (?:TABLE|DOMAIN|SEQUENCE|(?:UNIQUE )?INDEX) \Q$name\E[\s(;]/, $directive);
    } elsif ($verb eq 'add-columns' && @words >= 2) {
        my ($table, @columns) = @words;
        my @added = map { "    ADD COLUMN " . (column_definition($table, $_, $directive) =~ s/\n/\n    /gr) } @columns;
        print "ALTER TABLE $table\n", join(",\n", @added), ";\n";
    } elsif ($verb eq 'replace-check' && @words == 2) {
        my ($table, $column) = @words;
        my $check = check_of(column_definition($table, $column, $directive), $directive);
        my $name = unqualified($table) . "_${column}_check";
        print "ALTER TABLE $table DROP CONSTRAINT $name;\n";
        print "ALTER TABLE $table ADD CONSTRAINT $name\n    $check;\n";
    } elsif ($verb eq 'replace-domain-check' && @words == 1) {
        my $domain = $words[0];
        my $check = check_of(statement(qr/^CREATE DOMAIN \Q$domain\E\s/, $directive), $directive);
        my $name = unqualified($domain) . "_check";
        print "ALTER DOMAIN $domain DROP CONSTRAINT $name;\n";
        print "ALTER DOMAIN $domain ADD CONSTRAINT $name\n    $check;\n";
    } elsif ($verb eq 'set-default' && @words == 2) {
        my ($table, $column) = @words;
        my $definition = column_definition($table, $column, $directive);
        $definition =~ /\bDEFAULT\s+(.*?)(?:\s+CHECK\s*\(.*)?$/s or fail("no DEFAULT", $directive);
        print "ALTER TABLE $table ALTER COLUMN $column SET DEFAULT $1;\n";
    } elsif ($verb eq 'alter' && @words == 2) {
        print alter_statement(@words, $directive);
    } else {
        fail("unknown directive", $directive);
    }
}
close $fh;
