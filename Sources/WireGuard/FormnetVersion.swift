public enum FormnetVersion {
    public static let string = "0.1.0"
}
